"""Generated-kernel backends on the elementwise research neurons (QIF, EIF, KLIF).

Run by ``nox -s kernels`` (``TRITON_INTERPRET=1`` on CPU); skipped where no generated
backend can run.
"""

import copy

import pytest
import torch
from snn_neurons import EIFNode, KLIFNode, QIFNode

pytestmark = pytest.mark.kernels

NEURONS = {
    "QIFNode": lambda: QIFNode(step_mode="m"),
    "EIFNode": lambda: EIFNode(delta_T=0.5, step_mode="m", v_reset=None),
    "KLIFNode-scale_reset": lambda: KLIFNode(scale_reset=True, step_mode="m"),
    "KLIFNode": lambda: KLIFNode(v_reset=None, detach_reset=True, step_mode="m"),
}


@pytest.mark.parametrize("backend", ["triton", "cupy"])
@pytest.mark.parametrize("name", sorted(NEURONS))
def test_generated_backend_equals_torch(name, backend):
    device = "cuda" if torch.cuda.is_available() else "cpu"
    reference = NEURONS[name]().to(device)
    if backend not in reference.supported_backends:
        pytest.skip(f"backend {backend!r} cannot run here")
    node = copy.deepcopy(reference)
    node.backend = backend
    torch.manual_seed(0)
    x = (1.5 * torch.rand(6, 3, 5, device=device)).requires_grad_()
    x_ref = x.detach().clone().requires_grad_()
    out, out_ref = node(x), reference(x_ref)
    torch.testing.assert_close(out, out_ref)
    torch.testing.assert_close(node.v, reference.v)
    g = torch.randn_like(out)
    (out * g).sum().backward()
    (out_ref * g).sum().backward()
    torch.testing.assert_close(x.grad, x_ref.grad)
    for p, q in zip(node.parameters(), reference.parameters()):
        torch.testing.assert_close(p.grad, q.grad, rtol=1e-4, atol=1e-5)
