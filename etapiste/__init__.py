"""The ``etapiste`` command, gathering the commands of every part."""
