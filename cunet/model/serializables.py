"""Registers with Keras every class a cunet `.keras` file may name, package "cunet".

`cunet>UNet`, `cunet>FiLM`, `cunet>ControlNetwork`; and, for files saved before the `UNet`
class, the CPU speed forms those held: `cunet>StridedConv2D`, `cunet>StridedConv2DTranspose`
and `cunet>FusedBatchNorm` (still the classes `cunet.kernels.switch` uses, so these files
load with their own weights layout). `import cunet` imports this module as soon as Keras is
imported, so `keras.saving.load_model` reads any cunet file.
"""

# plain imports, no names taken from them: when a cunet module's own `import keras` runs this
# (through `import cunet`'s hook), that module is still half-imported and registers its
# classes as it completes
import cunet.kernels.batchnorm  # noqa: F401
import cunet.kernels.convolutions  # noqa: F401
import cunet.model.control  # noqa: F401
import cunet.model.film  # noqa: F401
import cunet.model.unet  # noqa: F401
