// The demo shop's code (web/public/shop/index.html). A file, not inline: the pages' CSP
// (workers/lib/security-headers.ts) allows scripts from this origin only. Loaded with `defer` before
// t.js, so it runs once the page is parsed and before the tracker: its calls go to the stub below and
// t.js replays them (the README's inline stub, moved here).
window.b2g=window.b2g||function(){(b2g.q=b2g.q||[]).push(arguments)};

(function () {
  var CURRENCY = "EUR";
  var PRODUCTS = [
    { view: "whey", sku: "WHEY-1KG", name: "Whey Protein 1 kg", price: 29.9, art: "WHEY", tint: "#0f766e", blurb: "80 % protein, vanilla. About 33 servings." },
    { view: "creatine", sku: "CREA-300", name: "Creatine Monohydrate 300 g", price: 19.9, art: "CREA", tint: "#7c3aed", blurb: "Pure micronised creatine, unflavoured." },
    { view: "preworkout", sku: "PRE-WO-300", name: "Pre-workout 300 g", price: 24.9, art: "PRE", tint: "#ea580c", blurb: "Citrulline, beta-alanine and caffeine. Lemon." }
  ];
  var cart = []; // [{sku, qty, price, name}] kept in memory only
  var customer = null;
  var lastOrder = null;
  var $ = function (id) { return document.getElementById(id); };

  /** Every tracker call goes through here so the side panel can show it. */
  function track(name, props) {
    b2g(name, props);
    log(name, props);
  }
  function log(name, props) {
    var li = document.createElement("li");
    li.innerHTML = "<b></b> <span></span>";
    li.firstChild.textContent = name;
    li.lastChild.textContent = props ? JSON.stringify(props) : "";
    $("log").prepend(li);
  }

  var money = function (n) { return "€" + n.toFixed(2); };
  var round2 = function (n) { return Math.round(n * 100) / 100; };
  var cartValue = function () { return round2(cart.reduce(function (s, i) { return s + i.qty * i.price; }, 0)); };
  var cartItems = function () { return cart.map(function (i) { return { sku: i.sku, qty: i.qty, price: i.price, name: i.name }; }); };
  var bySku = function (sku) { return PRODUCTS.filter(function (p) { return p.sku === sku; })[0]; };
  var esc = function (s) { return String(s).replace(/[&<>"]/g, function (c) { return { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" }[c]; }); };

  // --- actions --------------------------------------------------------------------------------
  function addToCart(sku) {
    var p = bySku(sku);
    var line = cart.filter(function (i) { return i.sku === sku; })[0];
    if (line) line.qty++;
    else cart.push({ sku: p.sku, qty: 1, price: p.price, name: p.name });
    track("add_to_cart", { sku: p.sku, qty: 1, price: p.price, currency: CURRENCY });
    render();
  }
  function removeFromCart(sku) {
    var line = cart.filter(function (i) { return i.sku === sku; })[0];
    if (!line) return;
    cart = cart.filter(function (i) { return i !== line; });
    track("remove_from_cart", { sku: sku, qty: line.qty, price: line.price, currency: CURRENCY });
    render();
  }
  function beginCheckout() {
    track("begin_checkout", { value: cartValue(), currency: CURRENCY, items: cartItems() });
    lastOrder = null;
    go("?view=checkout");
  }
  function buy() {
    if (!cart.length) return;
    var orderId = "demo-" + Date.now().toString(36) + "-" + Math.random().toString(36).slice(2, 8);
    track("purchase", { order_id: orderId, value: cartValue(), currency: CURRENCY, items: cartItems() });
    lastOrder = { id: orderId, value: cartValue() };
    cart = [];
    go("?view=thanks");
  }
  function login() {
    customer = "cust-42";
    // identify exists once t.js has run (the stub only queues plain events).
    if (b2g.identify) b2g.identify(customer);
    else window.addEventListener("load", function () { b2g.identify && b2g.identify(customer); });
    log("identify", { customer_id: customer });
    render();
  }
  function search(query) {
    query = query.trim();
    if (!query) return;
    var q = query.toLowerCase();
    var results = PRODUCTS.filter(function (p) { return p.name.toLowerCase().indexOf(q) >= 0; });
    track("search", { query: query, results: results.length });
    go("?view=search&q=" + encodeURIComponent(query));
  }

  // --- navigation: client-side views under /shop/?view=… (t.js sees each pushState as a page view) ---
  function go(href) {
    history.pushState({}, "", href);
    render();
    window.scrollTo(0, 0);
  }
  window.addEventListener("popstate", render);

  document.addEventListener("click", function (ev) {
    var el = ev.target.closest("[data-nav],[data-add],[data-remove],[data-action]");
    if (!el) return;
    if (el.hasAttribute("data-nav")) {
      if (ev.metaKey || ev.ctrlKey || ev.shiftKey || ev.button) return; // let the browser open new tabs
      ev.preventDefault();
      go(el.getAttribute("href"));
    } else if (el.hasAttribute("data-add")) addToCart(el.getAttribute("data-add"));
    else if (el.hasAttribute("data-remove")) removeFromCart(el.getAttribute("data-remove"));
    else if (el.getAttribute("data-action") === "checkout") beginCheckout();
    else if (el.getAttribute("data-action") === "buy") buy();
  });
  document.addEventListener("submit", function (ev) {
    if (!ev.target.matches("form.search")) return;
    ev.preventDefault();
    search(ev.target.elements.q.value);
  });
  $("login").addEventListener("click", login);

  // --- rendering ------------------------------------------------------------------------------
  function art(p) {
    return '<div class="art" aria-hidden="true" style="background:linear-gradient(135deg,' + p.tint + ',#1d2433)">' + p.art + "</div>";
  }
  function productCard(p) {
    return '<div class="card">' + art(p) +
      '<h2><a href="?view=' + p.view + '" data-nav>' + esc(p.name) + "</a></h2>" +
      '<div class="price">' + money(p.price) + "</div>" +
      '<div class="row"><a class="button" href="?view=' + p.view + '" data-nav>View</a>' +
      '<button class="primary" type="button" data-add="' + p.sku + '">Add to cart</button></div></div>';
  }
  var searchForm = '<form class="search" role="search"><input name="q" placeholder="Search products (e.g. creatine)" aria-label="Search"><button type="submit">Search</button></form>';

  var views = {
    home: function () {
      return "<h1>Supplements</h1>" + searchForm + '<div class="grid">' + PRODUCTS.map(productCard).join("") + "</div>";
    },
    product: function (p) {
      return '<p><a href="./" data-nav>← All products</a></p><div class="card">' + art(p) +
        "<h1 style=\"margin-top:.8rem\">" + esc(p.name) + "</h1><p class=\"muted\">" + esc(p.blurb) + " SKU " + p.sku + "</p>" +
        '<div class="price">' + money(p.price) + '</div><div class="row"><button class="primary" type="button" data-add="' + p.sku + '">Add to cart</button>' +
        '<a class="button" href="?view=cart" data-nav>Go to cart</a></div></div>';
    },
    cart: function () {
      if (!cart.length) return '<h1>Your cart</h1><div class="panel">Your cart is empty. <a href="./" data-nav>Browse products</a>.</div>';
      return "<h1>Your cart</h1><div class=\"panel\"><table><thead><tr><th>Product</th><th class=\"num\">Qty</th><th class=\"num\">Price</th><th></th></tr></thead><tbody>" +
        cart.map(function (i) {
          return "<tr><td>" + esc(i.name) + '</td><td class="num">' + i.qty + '</td><td class="num">' + money(i.qty * i.price) +
            '</td><td class="num"><button type="button" data-remove="' + i.sku + '">Remove</button></td></tr>';
        }).join("") +
        '</tbody><tfoot><tr><th>Total</th><th></th><th class="num">' + money(cartValue()) + "</th><th></th></tr></tfoot></table>" +
        '<div class="row"><button class="primary" type="button" data-action="checkout">Checkout</button></div></div>';
    },
    checkout: function () {
      if (!cart.length) return views.cart();
      return '<h1>Checkout</h1><div class="panel"><p>' + cart.length + " product(s), total <strong>" + money(cartValue()) + "</strong>." +
        (customer ? " Logged in as <strong>" + customer + "</strong>." : " Shopping as a guest (log in to attach a customer id).") +
        '</p><div class="row"><button class="primary" type="button" data-action="buy">Buy</button><a class="button" href="?view=cart" data-nav>Back to cart</a></div></div>';
    },
    thanks: function () {
      if (!lastOrder) return views.home();
      return '<div class="notice">Thank you! Order <code>' + esc(lastOrder.id) + "</code> (" + money(lastOrder.value) + ") was placed. A <code>purchase</code> event was sent.</div>" + views.home();
    },
    search: function (q) {
      var lq = q.toLowerCase();
      var hits = PRODUCTS.filter(function (p) { return p.name.toLowerCase().indexOf(lq) >= 0; });
      return "<h1>Search: " + esc(q) + "</h1>" + searchForm + (hits.length ? '<div class="grid">' + hits.map(productCard).join("") + "</div>" : '<div class="panel">No products found.</div>');
    }
  };

  var lastProductView = null;
  function render() {
    var params = new URLSearchParams(location.search);
    var view = params.get("view") || "home";
    var product = PRODUCTS.filter(function (p) { return p.view === view; })[0];
    var html;
    if (product) html = views.product(product);
    else if (views[view] && view !== "product") html = views[view](params.get("q") || "");
    else html = views.home();
    $("view").innerHTML = html;
    $("cart-count").textContent = cart.reduce(function (s, i) { return s + i.qty; }, 0);
    $("login").textContent = customer ? "Logged in: " + customer : "Log in";
    $("login").disabled = !!customer;
    document.querySelectorAll("nav a").forEach(function (a) {
      var target = new URL(a.href).searchParams.get("view") || "home";
      if (target === view) a.setAttribute("aria-current", "page");
      else a.removeAttribute("aria-current");
    });
    document.title = (product ? product.name + " · " : "") + "Brain2Gain demo shop";
    // One product_view per arrival on a product page (not on re-renders after add to cart).
    var key = product ? location.search : null;
    if (product && key !== lastProductView) track("product_view", { sku: product.sku, price: product.price, currency: CURRENCY });
    lastProductView = key;
  }

  render();
})();
