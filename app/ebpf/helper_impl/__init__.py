"""Implementations of the helpers in ``app.ebpf.helpers``, grouped by area."""
