def wrap(text, width):
    if width < 1:
        raise ValueError("width must be at least 1")
    pieces = []
    for word in text.split():
        pieces.extend(word[start:start + width] for start in range(0, len(word), width))
    lines = []
    for piece in pieces:
        if lines and len(lines[-1]) + 1 + len(piece) <= width:
            lines[-1] += " " + piece
        else:
            lines.append(piece)
    return lines
