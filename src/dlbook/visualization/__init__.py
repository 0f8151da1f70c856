"""What a convnet learned (book 5.4): `dlbook visualize method=activations|filters|gradcam`.

- ``images``: read an image (a file, or scikit-image's bundled photo of Chelsea the cat), prepare it for
  a model, write PNGs, grids and TensorBoard image summaries.
- ``activations`` (5.4a): the channels of the first layers' outputs for one image, 16 per row.
- ``filters`` (5.4b): the input pattern each filter responds to most, found by gradient ascent.
- ``gradcam`` (5.4c): where in the image a class's evidence lies (class activation heatmap).
- ``command``: the Hydra task function of `dlbook visualize` (conf/visualize.yaml).

Keras (on the backend of ``backend=``) is imported inside the functions that need it, so importing this
package stays cheap; gradients come from ``dlbook.models.input_gradients``, the same code on every backend.
"""
