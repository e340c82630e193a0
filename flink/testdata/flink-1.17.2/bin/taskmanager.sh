#!/usr/bin/env bash
# Stand-in for Flink's bin/taskmanager.sh in Spindle's fake distribution (test data):
# Spindle never runs the distribution's scripts; it builds the java
# command line itself.
echo "fake Flink distribution: bin/taskmanager.sh is a stand-in" >&2
exit 1
