// Command hello is the binary testutil's Build test builds.
package main

import "fmt"

func main() { fmt.Println("hello from a test binary") }
