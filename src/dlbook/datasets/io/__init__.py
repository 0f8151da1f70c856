"""The plumbing the dataset loaders share: downloads and archives, safe .npz reading, the split
containers (examples), batching pipelines (tf.data and NumPy), image decoding and augmentation,
sequence padding, text encodings and the debug limits.
"""
