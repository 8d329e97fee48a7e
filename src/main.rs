fn main() {
    print!("{}", sendgrid_tls_operator::api::crd_yaml());
}
