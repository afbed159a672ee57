"""Tax rules: rates per place and tax class, the input the tax kernel matches addresses against."""
