// The Python module of a library of ops: importing it loads the shared library, which runs the
// library's TORCH_LIBRARY registrations. The module holds no functions (the ops are reached through
// torch.ops.<namespace>), only the torch version it was built against (setup.py defines
// BEYONDMSE_TORCH_VERSION), which its importer compares with the running one: a build for another
// torch is then refused with a reason instead of failing on a missing symbol.
#pragma once

#include <Python.h>

#define BEYONDMSE_STR(x) BEYONDMSE_STR2(x)
#define BEYONDMSE_STR2(x) #x

// Defines PyInit_<name>, the entry point of the extension module pyext.<name>.
#define BEYONDMSE_PYTHON_MODULE(name)                                                                   \
  PyMODINIT_FUNC PyInit_##name(void) {                                                                 \
    static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, #name, nullptr, -1, nullptr};          \
    PyObject* m = PyModule_Create(&module);                                                            \
    if (m != nullptr &&                                                                                \
        PyModule_AddStringConstant(m, "torch_version", BEYONDMSE_STR(BEYONDMSE_TORCH_VERSION)) < 0) { \
      Py_DECREF(m);                                                                                    \
      return nullptr;                                                                                  \
    }                                                                                                  \
    return m;                                                                                          \
  }
