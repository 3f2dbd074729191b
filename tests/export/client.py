"""A serving client that knows only TensorFlow: scores RAW inputs with an exported SavedModel.

    python tests/export/client.py SAVED_MODEL_VERSION_DIR RAW.npy OUT.npz

RAW.npy: images (N, H, W, C) of raw pixel values, numeric rows (N, F), or CSV fields as text (N, columns).
It imports no tfganad module (the test checks), as a TF-Serving-style client would not.
"""

import sys

import numpy as np
import tensorflow as tf

# Load, feed raw values, read the decision (the README blocks are run by test_raw_serving.py itself).
serve = tf.saved_model.load(sys.argv[1]).signatures["serving_default"]
raw = np.load(sys.argv[2])
x = tf.constant(raw.astype(str) if raw.dtype.kind == "U" else raw.astype("float32"))
out = serve(x=x)
np.savez(sys.argv[3], **{k: v.numpy() for k, v in out.items()},
         tfganad_imported=np.array(any(m.split(".")[0] == "tfganad" for m in sys.modules)))
