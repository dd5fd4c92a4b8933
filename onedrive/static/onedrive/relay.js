// Microsoft puts the implicit grant's answer in the fragment, which never reaches the server: hand it
// over with a same-site POST (the session cookie goes along), and drop it from the address bar first.
(function () {
  var answer = new URLSearchParams(window.location.hash.replace(/^#/, ""));
  var form = document.getElementById("relay");
  var count = 0;
  answer.forEach(function (value, name) {
    var field = document.createElement("input");
    field.type = "hidden";
    field.name = name;
    field.value = value;
    form.appendChild(field);
    count += 1;
  });
  history.replaceState(null, "", window.location.pathname);
  if (count) {
    form.submit();
  } else {
    document.getElementById("nothing").hidden = false;
  }
})();
