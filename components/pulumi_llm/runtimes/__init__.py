"""Pure runtime specs: vLLM, Triton, llama.cpp → a ContainerSpec every platform renders."""
