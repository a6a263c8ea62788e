"""Image datasets: the interface, the embedded MNIST digits, the IDX family, CIFAR-10 and image folders."""
