"""The test stage's machinery: JUnit XML reports, running the configured suites, the built-in load probe."""
