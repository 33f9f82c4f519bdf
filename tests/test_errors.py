import pytest

import zkagg
from zkagg import _errors


def test_every_error_has_a_distinct_exit_code() -> None:
    classes = [getattr(_errors, n) for n in _errors.__all__]
    codes = [c.exit_code for c in classes]
    assert len(set(codes)) == len(codes)
    assert all(issubclass(c, zkagg.ZkaggError) for c in classes)
    assert all(c.exit_code != 0 for c in classes)


@pytest.mark.parametrize(
    ("child", "parent"),
    [
        (zkagg.DAConnectionError, zkagg.DAError),
        (zkagg.DAAuthError, zkagg.DAError),
        (zkagg.BlobNotFound, zkagg.DAError),
        (zkagg.DARPCError, zkagg.DAError),
        (zkagg.InvalidArgument, ValueError),
        (zkagg.QuantizationError, ValueError),
    ],
)
def test_tree(child: type, parent: type) -> None:
    assert issubclass(child, parent)


def test_rpc_error_keeps_code() -> None:
    err = zkagg.DARPCError("blob: invalid proof", code=1)
    assert err.code == 1 and err.rpc_message == "blob: invalid proof"
