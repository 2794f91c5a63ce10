"""The faces path: detect → 468 landmarks → align to a canonical crop → paste back."""
