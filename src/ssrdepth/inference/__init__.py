"""Inference: the predict library, output writers, ONNX Runtime sessions and metadata, export."""
