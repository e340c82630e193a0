// Command broken does not compile: testutil's Build test checks the
// failure.
package main

func main() { undefined() }
