"""DVC stage scripts: each reads its params sections, calls pyext, and writes its outputs."""
