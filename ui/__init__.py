"""Citewire's user interfaces: the ``citewire`` command line (``ui.cli``) and the chat page."""
