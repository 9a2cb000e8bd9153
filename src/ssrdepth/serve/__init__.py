"""``ssrdepth serve``: a web page for trying a trained model (Gradio, the optional ``[serve]`` extra).

:mod:`ssrdepth.serve.service` does the work without Gradio (upload checks, one shared model per file,
prediction through :mod:`ssrdepth.inference.predict`, downloads, colour bar, point cloud); only
:mod:`ssrdepth.serve.app` imports Gradio, and nothing else in the package imports it.
"""
