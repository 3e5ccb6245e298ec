"""Ingestion: sources → audio → transcription → diarization → chunks → entities → indexes."""
