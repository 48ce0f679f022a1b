"""The errors minialex raises for input it can explain, apart from its own bugs.

Each is a subclass of the built-in error a PyTorch user would catch (``ValueError``, ``TypeError``,
``RuntimeError``), so ``except ValueError`` keeps working; :class:`MinialexError` is their common base, so the
``minialex`` command can print these as one line and let anything else -- a bug -- show its traceback.

==================  ========================  ==========================================================
class               also a                    raised for
==================  ========================  ==========================================================
InputError          ValueError                a value the caller passed that the library does not take
ShapeError          InputError                shapes that do not fit (a 3-D image, 2 channels for 3)
ConfigError         InputError                a setting: unknown name, out-of-range hyperparameter
DataError           InputError                a data file missing, malformed, or not the one expected
CheckpointError     InputError                a checkpoint that cannot be read or does not fit the run
InputTypeError      TypeError                 an argument of the wrong kind (a list where a Module goes)
==================  ========================  ==========================================================

``BackendUnavailable`` (the engine cannot run here) and ``TrainingError`` (a run that cannot start or go on)
are ``MinialexError`` too, with ``RuntimeError`` as their built-in kin.
"""


class MinialexError(Exception):
    """Input or setup the library explains in its message; the ``minialex`` command prints it as one line."""


class InputError(MinialexError, ValueError):
    """A value the caller passed that the library does not take; the message says what was expected."""


class ShapeError(InputError):
    """Shapes that do not fit the op or layer; the message names both."""


class ConfigError(InputError):
    """A setting that is unknown or out of range: a name, a hyperparameter, an option."""


class DataError(InputError):
    """A data file is missing, malformed, or not the file we expected."""


class CheckpointError(InputError):
    """A checkpoint that cannot be read, or that does not fit the model and run it is loaded into."""


class InputTypeError(MinialexError, TypeError):
    """An argument of the wrong kind."""
