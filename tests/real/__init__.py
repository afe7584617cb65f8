"""The real-server tier: the proxy in front of real OpenAI-compatible servers (llama.cpp)."""
