"""roar's command line: a click group whose commands each call one library function."""
