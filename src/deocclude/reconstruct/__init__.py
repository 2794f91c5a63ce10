"""R's geometry: our own linear 3D face model, a small differentiable rasterizer, and the
teacher that fits coefficient vectors x* to clean photos (docs/design.md §3).

Public entry points:
- :class:`~deocclude.reconstruct.layout.CoefficientLayout` — the one place that says how the
  257 numbers of x split into pose / shape / albedo / light.
- :class:`~deocclude.reconstruct.face_model.FaceModel` — ``FaceModel.load()``,
  ``model.render(x, size) -> Rendered(image, mask, landmarks)``.
- :mod:`~deocclude.reconstruct.render` — ``rasterize`` / ``interpolate`` / SH shading.
- :mod:`~deocclude.reconstruct.fit` — ``fit_teacher(model, images, landmarks, masks)``.
"""
