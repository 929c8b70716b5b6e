"""Pure runtime specs: vLLM, Triton, llama.cpp, ONNX Runtime GenAI → a ContainerSpec every platform renders.

`registry.py` lists them; each module declares its `RUNTIME` and `container_spec(ContainerRequest)`."""
