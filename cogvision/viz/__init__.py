"""Figures a person looks at, one module per scientific module."""
