"""Citadel's benchmarks: real HTTP load on real servers, judged against ceilings measured in the same run."""
