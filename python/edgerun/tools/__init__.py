"""Tools built on the package: the ``edgerun`` command line (:mod:`edgerun.tools.cli`)
and the Keras/SavedModel converter (:mod:`edgerun.tools.convert`). They may
import any part of edgerun; nothing in edgerun outside this folder imports them,
except the package root re-exporting :func:`edgerun.convert`."""
