import zkagg


def test_all_is_sorted_and_complete() -> None:
    # Prepare / Execute
    names = zkagg.__all__
    # Assert
    assert names == sorted(names)
    assert len(set(names)) == len(names)
    missing = [name for name in names if not hasattr(zkagg, name)]
    assert missing == []
    public = {
        n for n in dir(zkagg) if not n.startswith("_") and not isinstance(getattr(zkagg, n), type(zkagg))
    } - {"annotations"}  # from __future__
    assert public - set(names) == set(), "public names missing from __all__"
