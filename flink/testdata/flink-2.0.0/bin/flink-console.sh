#!/usr/bin/env bash
# Stand-in for Flink's bin/flink-console.sh in Spindle's fake distribution (test data):
# Spindle never runs the distribution's scripts; it builds the java
# command line itself.
echo "fake Flink distribution: bin/flink-console.sh is a stand-in" >&2
exit 1
