"""Fashion-MNIST shops: the evaluation's second real dataset (Debian's dataset-fashion-mnist)."""
