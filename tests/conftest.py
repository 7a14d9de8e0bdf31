"""The core's tests share the repository-wide fixtures (``shared_data``: see the root ``conftest.py``)."""
