"""What a job ran with: git state, the packages it used, the host it ran on."""
