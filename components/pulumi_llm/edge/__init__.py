"""Edge: multi-arch llama.cpp server images (`image.EdgeImage`) and GGUF model preparation (`prepare`).

Submodules are imported where used: `prepare` is pure, `image` needs pulumi-docker-build (and pulumi-aws
for an ECR repository), so importing this package costs nothing.
"""
