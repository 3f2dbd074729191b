"""Writes the digits example in the industrial folder layout (MVTec AD convention) for recipes/folder_digits.yaml.

    python docs/make_digits_folder.py [DIR]        # default runs/digits_folder → DIR/digits/{train,test,ground_truth}

scikit-learn's real handwritten digits (upsampled to 32×32) are the good parts; scratches (bright lines)
and spots (grey discs) pasted on other digits are the defects, with their masks in ground_truth/.
"""

import sys

from tfganad.data.industrial import write_digits_folder

if __name__ == "__main__":
    print(write_digits_folder(sys.argv[1] if len(sys.argv) > 1 else "runs/digits_folder"))
