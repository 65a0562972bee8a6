// Code names in the text may break across lines after a dot, slash, equals sign, colon, comma
// or opening bracket ("rpc.client.call.|duration"), not inside a word: a <wbr> at each of those
// places in inline code (it adds no character: what is copied is unchanged). Material's
// document$ runs this on every page.
document$.subscribe(function () {
  var after = /(?<=[./=:,(\[])(?=[A-Za-z0-9"'])/;
  document.querySelectorAll(".md-typeset :not(pre) > code").forEach(function (code) {
    if (code.dataset.breaks) return;
    code.dataset.breaks = "1";
    var walker = document.createTreeWalker(code, NodeFilter.SHOW_TEXT);
    var texts = [];
    for (var node = walker.nextNode(); node; node = walker.nextNode()) texts.push(node);
    texts.forEach(function (text) {
      var parts = text.textContent.split(after);
      if (parts.length < 2) return;
      var pieces = document.createDocumentFragment();
      parts.forEach(function (part, i) {
        if (i) pieces.appendChild(document.createElement("wbr"));
        pieces.appendChild(document.createTextNode(part));
      });
      text.parentNode.replaceChild(pieces, text);
    });
  });
});
