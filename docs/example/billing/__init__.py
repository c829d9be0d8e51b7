"""A small invoicing application, the example of docs/lifecycle.rst."""
