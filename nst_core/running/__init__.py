"""The running of jobs: a job as data; a photo's job and an artwork's targets job, run; their
records; the run's progress."""
