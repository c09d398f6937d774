"""Citewire's evaluation harness."""
