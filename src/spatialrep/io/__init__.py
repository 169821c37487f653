"""Reading and writing files: audio, SOFA, atomic writes."""
