"""Video data: decoding, the demo set, manifests, patch extraction, HDF5 stores and the torch Dataset."""
