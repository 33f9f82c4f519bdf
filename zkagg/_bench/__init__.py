"""The benchmark wing behind ``zkagg bench``: measurement apart from reporting."""
