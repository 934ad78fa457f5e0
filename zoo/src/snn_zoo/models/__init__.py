"""SpikingJelly's ``activation_based.model`` namespace, ported by imports (being filled)."""
