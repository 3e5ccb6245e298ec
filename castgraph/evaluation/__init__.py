"""Offline quality measures: word error rate, diarization error rate."""
