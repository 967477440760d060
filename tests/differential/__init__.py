"""Helpers for tests/test_differential.py: instruction builders, program generators, and the harness that
runs one program in our VM and in the kernel (BPF_PROG_TEST_RUN) and compares the return values."""
