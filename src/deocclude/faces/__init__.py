"""The faces path: detect → 468 landmarks → align → paste back."""
